package httpapi

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"kinwatch"
	"kinwatch/account"
)

// Route is one API route. The OpenAPI document must describe exactly these (a test checks it).
type Route struct {
	Method string
	Path   string // a ServeMux pattern path: /api/v1/watches/{watch}
	// Public routes need no session; Operator routes need an operator account.
	Public   bool
	Operator bool
	handler  func(w http.ResponseWriter, r *http.Request, c *caller)
}

// caller is the authenticated request's account and session.
type caller struct {
	account *kinwatch.Account
	session *kinwatch.Session
	token   string
	client  account.Client
}

// Routes lists the API routes (for documentation and tests).
func (s *Server) Routes() []Route { return s.routes() }

func (s *Server) routes() []Route {
	pub := func(m, p string, h func(http.ResponseWriter, *http.Request, *caller)) Route {
		return Route{Method: m, Path: p, Public: true, handler: h}
	}
	auth := func(m, p string, h func(http.ResponseWriter, *http.Request, *caller)) Route {
		return Route{Method: m, Path: p, handler: h}
	}
	op := func(m, p string, h func(http.ResponseWriter, *http.Request, *caller)) Route {
		return Route{Method: m, Path: p, Operator: true, handler: h}
	}
	const v = "/api/v1"
	return []Route{
		pub("GET", v+"/openapi.json", s.openAPI),
		pub("GET", v+"/policy", s.policy),
		pub("POST", v+"/auth/signup", s.signUp),
		pub("POST", v+"/auth/verify-email", s.verifyEmail),
		pub("POST", v+"/auth/verify-email/resend", s.resendVerification),
		pub("POST", v+"/auth/login", s.login),
		pub("POST", v+"/auth/password-reset", s.requestReset),
		pub("POST", v+"/auth/password-reset/confirm", s.confirmReset),
		pub("GET", v+"/auth/providers", s.providers),
		pub("GET", v+"/auth/oidc/{provider}/start", s.oidcStart),
		pub("GET", v+"/auth/oidc/{provider}/callback", s.oidcCallback),
		auth("POST", v+"/auth/logout", s.logout),
		pub("GET", v+"/push/key", s.pushKey),
		pub("POST", v+"/notifications/block", s.blockNotification),

		auth("GET", v+"/me", s.me),
		auth("PATCH", v+"/me", s.updateMe),
		auth("PUT", v+"/me/password", s.changePassword),
		auth("POST", v+"/me/email", s.changeEmail),
		auth("GET", v+"/me/avatar", s.myAvatar),
		auth("PUT", v+"/me/avatar", s.setMyAvatar),
		auth("DELETE", v+"/me/avatar", s.deleteMyAvatar),
		auth("GET", v+"/me/sessions", s.sessions),
		auth("DELETE", v+"/me/sessions", s.revokeAllSessions),
		auth("DELETE", v+"/me/sessions/{session}", s.revokeSession),
		auth("POST", v+"/me/exports", s.requestExport),
		auth("GET", v+"/me/exports", s.exports),
		auth("GET", v+"/me/exports/{export}", s.export),
		auth("POST", v+"/me/exports/{export}/link", s.exportLink),
		pub("GET", v+"/exports/{export}/download", s.downloadExport),
		auth("GET", v+"/me/cancellation", s.cancellationPlan),
		auth("POST", v+"/me/cancellation", s.cancelAccount),
		auth("GET", v+"/me/consent", s.myConsent),
		auth("PUT", v+"/me/consent", s.changeMyConsent),
		auth("GET", v+"/me/consent/history", s.myConsentHistory),
		auth("GET", v+"/me/notices", s.myNotices),
		auth("POST", v+"/me/notices/{notice}/read", s.readNotice),
		auth("GET", v+"/me/identities", s.identities),
		auth("DELETE", v+"/me/identities/{provider}", s.unlinkIdentity),

		auth("GET", v+"/families", s.families),
		auth("GET", v+"/families/{family}", s.family),
		auth("PATCH", v+"/families/{family}", s.renameFamily),
		auth("GET", v+"/families/{family}/retention", s.familyRetention),
		auth("GET", v+"/families/{family}/access-log", s.accessLog),
		auth("PUT", v+"/families/{family}/retention", s.setFamilyRetention),
		auth("GET", v+"/families/{family}/members", s.members),
		auth("PATCH", v+"/families/{family}/members/{account}", s.updateMember),
		auth("DELETE", v+"/families/{family}/members/{account}", s.removeMember),
		auth("GET", v+"/families/{family}/members/{account}/avatar", s.memberAvatar),
		auth("POST", v+"/families/{family}/admin", s.transferAdmin),
		auth("GET", v+"/families/{family}/invitations", s.invitations),
		auth("POST", v+"/families/{family}/invitations", s.invite),
		auth("DELETE", v+"/families/{family}/invitations/{invitation}", s.revokeInvitation),
		auth("GET", v+"/families/{family}/join-requests", s.joinRequests),
		auth("POST", v+"/families/{family}/join-requests/{request}/approve", s.approveJoin),
		auth("DELETE", v+"/families/{family}/join-requests/{request}", s.declineJoin),
		auth("POST", v+"/invitations/accept", s.acceptInvitation),

		auth("POST", v+"/bindings", s.startBinding),
		auth("POST", v+"/bindings/{binding}/confirm", s.confirmBinding),
		auth("GET", v+"/watches", s.watches),
		auth("GET", v+"/watches/{watch}", s.watch),
		auth("DELETE", v+"/watches/{watch}", s.unbind),
		auth("GET", v+"/watches/{watch}/child", s.child),
		auth("PATCH", v+"/watches/{watch}/child", s.updateChild),
		auth("GET", v+"/watches/{watch}/child/avatar", s.childAvatar),
		auth("PUT", v+"/watches/{watch}/child/avatar", s.setChildAvatar),
		auth("DELETE", v+"/watches/{watch}/child/avatar", s.deleteChildAvatar),
		auth("GET", v+"/watches/{watch}/consent", s.childConsent),
		auth("PUT", v+"/watches/{watch}/consent", s.changeChildConsent),
		auth("GET", v+"/watches/{watch}/consent/history", s.childConsentHistory),
		auth("GET", v+"/watches/{watch}/events/{event}/deliveries", s.eventDeliveries),
		auth("GET", v+"/me/push-subscriptions", s.pushSubscriptions),
		auth("POST", v+"/me/push-subscriptions", s.addPushSubscription),
		auth("DELETE", v+"/me/push-subscriptions/{subscription}", s.deletePushSubscription),
		auth("POST", v+"/me/push-subscriptions/{subscription}/test", s.testPushSubscription),
		auth("GET", v+"/me/notification-preferences", s.notificationPrefs),
		auth("PUT", v+"/me/notification-preferences", s.setNotificationPrefs),
		auth("GET", v+"/families/{family}/webhooks", s.webhooks),
		auth("POST", v+"/families/{family}/webhooks", s.addWebhook),
		auth("DELETE", v+"/families/{family}/webhooks/{webhook}", s.deleteWebhook),
		auth("POST", v+"/families/{family}/webhooks/{webhook}/test", s.testWebhook),
		auth("GET", v+"/watches/{watch}/fences", s.listFences),
		auth("POST", v+"/watches/{watch}/fences", s.createFence),
		auth("GET", v+"/watches/{watch}/fences/{fence}", s.getFence),
		auth("PUT", v+"/watches/{watch}/fences/{fence}", s.replaceFence),
		auth("DELETE", v+"/watches/{watch}/fences/{fence}", s.deleteFence),
		auth("GET", v+"/positions/latest", s.latestPositions),
		auth("GET", v+"/watches/{watch}/positions", s.positions),
		auth("DELETE", v+"/watches/{watch}/positions", s.deleteRange(kinwatch.RecordPositions)),
		auth("DELETE", v+"/watches/{watch}/positions/{position}", s.deleteRecord(kinwatch.RecordPositions, "position")),
		auth("GET", v+"/watches/{watch}/positions/latest", s.latestPosition),
		auth("GET", v+"/watches/{watch}/track", s.watchTrack),
		auth("GET", v+"/watches/{watch}/days", s.watchDays),
		auth("GET", v+"/watches/{watch}/events", s.events),
		auth("DELETE", v+"/watches/{watch}/events", s.deleteRange(kinwatch.RecordEvents)),
		auth("DELETE", v+"/watches/{watch}/events/{event}", s.deleteRecord(kinwatch.RecordEvents, "event")),
		auth("GET", v+"/watches/{watch}/health", s.health),
		auth("DELETE", v+"/watches/{watch}/health", s.deleteRange(kinwatch.RecordHealth)),
		auth("GET", v+"/watches/{watch}/commands", s.listCommands),
		auth("POST", v+"/watches/{watch}/commands", s.sendCommand),
		auth("GET", v+"/watches/{watch}/commands/{command}", s.command),
		auth("GET", v+"/watches/{watch}/media", s.mediaList),
		auth("GET", v+"/watches/{watch}/media/{media}", s.media),
		auth("DELETE", v+"/watches/{watch}/media/{media}", s.deleteRecord(kinwatch.RecordMedia, "media")),
		auth("GET", v+"/watches/{watch}/media/{media}/content", s.mediaContent),
		auth("GET", v+"/stream", s.stream),

		op("GET", v+"/admin/accounts", s.adminAccounts),
		op("GET", v+"/admin/watches", s.adminWatches),
		op("GET", v+"/admin/watches/{watch}/qrcode", s.qrCode),
	}
}

const (
	sessionCookie = "kw_session"
	csrfHeader    = "X-CSRF-Token"
)

// wrap authenticates (unless public), enforces CSRF for cookie sessions, and bounds the body.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		c := &caller{client: s.clientOf(r)}
		if !rt.Public {
			if err := s.authenticate(r, c); err != nil {
				s.writeError(w, r, err)
				return
			}
			if rt.Operator && !c.account.Operator {
				s.writeError(w, r, kinwatch.Errorf(kinwatch.EFORBIDDEN, "only operators can use this"))
				return
			}
		}
		rt.handler(w, r, c)
	})
}

// maxBody bounds request bodies; nothing the API accepts is larger.
const maxBody = 1 << 20

func (s *Server) authenticate(r *http.Request, c *caller) error {
	kind := kinwatch.SessionBearer
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		ck, err := r.Cookie(sessionCookie)
		if err != nil {
			return kinwatch.Errorf(kinwatch.EUNAUTHORIZED, "sign in first: send the session cookie or an Authorization: Bearer token")
		}
		token, kind = ck.Value, kinwatch.SessionCookie
	}
	a, ss, err := s.Accounts.Authenticate(r.Context(), strings.TrimSpace(token), c.client)
	if err != nil {
		return err
	}
	if ss.Kind != kind {
		// A bearer token in a cookie (or the reverse) is not how this session was issued.
		return kinwatch.Errorf(kinwatch.EUNAUTHORIZED, "sign in first: the session is missing, expired or revoked")
	}
	if kind == kinwatch.SessionCookie && !safeMethod(r.Method) &&
		subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(account.CSRFToken(token))) != 1 {
		return kinwatch.Errorf(kinwatch.EFORBIDDEN, "missing or wrong %s header (it comes with the sign-in response and GET /api/v1/me)", csrfHeader)
	}
	c.account, c.session, c.token = a, ss, token
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// clientOf says where the request comes from. Behind a trusted reverse proxy that is the nearest
// address in X-Forwarded-For that is not one of the proxies (the ones further left are whatever
// the client claimed); otherwise it is the peer, and X-Forwarded-For is ignored, so a client
// cannot choose the address its rate limits count against.
func (s *Server) clientOf(r *http.Request) account.Client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := host
	if peer, err := netip.ParseAddr(host); err == nil && s.trusted(peer) {
		hops := r.Header.Values("X-Forwarded-For")
	walk:
		for i := len(hops) - 1; i >= 0; i-- {
			list := strings.Split(hops[i], ",")
			for j := len(list) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(list[j]))
				if err != nil {
					break walk // garbage: keep the last proxy's address
				}
				ip = a.Unmap().String()
				if !s.trusted(a) {
					break walk
				}
			}
		}
	}
	return account.Client{IP: ip, UserAgent: r.UserAgent()}
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ctx is the request's context (a shorthand for handlers).
func ctx(r *http.Request) context.Context { return r.Context() }
