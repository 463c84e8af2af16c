package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"kinwatch/app"
	"kinwatch/mail"
	"kinwatch/mail/smtptest"
	"kinwatch/notify/pushtest"
)

// BenchmarkAlarmLatency measures an SOS from the watch's frame to the Web Push request at the
// push service: the gateway, the storage writer's batch, planning the deliveries and encrypting
// and signing the message. One alarm at a time (the latency a family sees, not throughput);
// reported as p50 and p99 over b.N alarms, e.g. -benchtime=300x.
func BenchmarkAlarmLatency(b *testing.B) {
	cfg := testConfig(b)
	cfg.NotifyAllowPrivate = true
	smtp := smtptest.Start(b)
	a := app.New(cfg, logger())
	a.Argon2 = fastArgon2
	a.Mailer = &mail.SMTP{Addr: smtp.Addr(), From: "kinwatch@example.org", TLS: "none"}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	api := &client{t: b, base: "http://" + a.HTTPAddr().String()}
	mum := api.signUp(smtp, "mum.bench@example.org", "Mum", cfg.PolicyVersion)
	w := dialWatch(b, a.WatchAddr().String(), "8800000091")
	w.send("LK")
	w.expect("LK")
	api.bindWatch(mum, w, "Bench")
	push := pushtest.New(b)
	sub := push.Subscribe()
	if code := api.call(mum, "POST", "/api/v1/me/push-subscriptions", map[string]any{"endpoint": sub.Endpoint,
		"keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}}, nil); code != 201 {
		b.Fatalf("subscribe: %d", code)
	}
	lat := make([]time.Duration, 0, b.N)
	base := time.Now().UTC().Add(-time.Duration(b.N+1) * 3 * time.Minute)
	b.ResetTimer()
	for i := range b.N {
		// Alarms 3 minutes apart by the watch's clock: each is a new alarm, not a resend.
		at := base.Add(time.Duration(i) * 3 * time.Minute)
		sent := time.Now()
		w.send("AL," + at.Format("020106,150405") + ",A,52.520000,N,13.405000,E,0,0,30,7,80,67,100,0,00010000,0,0")
		msgs := push.Wait(b, i+1, 10*time.Second)
		lat = append(lat, msgs[i].At.Sub(sent))
		w.expect("AL")
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}
