-- Where cell towers and Wi-Fi access points are (issue 5): the local geolocation database. Cells
-- come from an OpenCellID import (source 'import') or are learned from the fleet's own reports
-- that carry a GPS fix (source 'learned'); access points are only learned. Neither table says
-- which watch or child heard what: only where the transmitter is.
CREATE TABLE cell_towers (
	mcc        INTEGER NOT NULL,
	mnc        INTEGER NOT NULL,
	lac        INTEGER NOT NULL,
	cid        INTEGER NOT NULL,
	lat        REAL NOT NULL,
	lon        REAL NOT NULL,
	range_m    REAL NOT NULL,
	samples    INTEGER NOT NULL,
	m2         REAL NOT NULL DEFAULT 0, -- learned cells: the spread of their fixes (Welford)
	source     TEXT NOT NULL CHECK (source IN ('import', 'learned')),
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (mcc, mnc, lac, cid)
) STRICT, WITHOUT ROWID;

-- A learned access point: the running mean of the GPS fixes it was heard at, and their spread
-- (sum of squared distances from the mean, Welford), so a moved access point shows as a wide one.
CREATE TABLE wifi_aps (
	mac        TEXT PRIMARY KEY,
	lat        REAL NOT NULL,
	lon        REAL NOT NULL,
	m2         REAL NOT NULL,
	samples    INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
