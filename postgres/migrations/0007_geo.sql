-- Where cell towers and Wi-Fi access points are (issue 5): the local geolocation database. Cells
-- come from an OpenCellID import (source 'import') or are learned from the fleet's own reports
-- that carry a GPS fix (source 'learned'); access points are only learned. Neither table says
-- which watch or child heard what: only where the transmitter is.
CREATE TABLE cell_towers (
	mcc        integer NOT NULL,
	mnc        integer NOT NULL,
	lac        bigint NOT NULL,
	cid        bigint NOT NULL,
	lat        double precision NOT NULL,
	lon        double precision NOT NULL,
	range_m    double precision NOT NULL,
	samples    integer NOT NULL,
	m2         double precision NOT NULL DEFAULT 0, -- learned cells: the spread of their fixes (Welford)
	source     text NOT NULL CHECK (source IN ('import', 'learned')),
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (mcc, mnc, lac, cid)
);

-- A learned access point: the running mean of the GPS fixes it was heard at, and their spread
-- (sum of squared distances from the mean, Welford), so a moved access point shows as a wide one.
CREATE TABLE wifi_aps (
	mac        text PRIMARY KEY,
	lat        double precision NOT NULL,
	lon        double precision NOT NULL,
	m2         double precision NOT NULL,
	samples    integer NOT NULL,
	updated_at timestamptz NOT NULL
);
