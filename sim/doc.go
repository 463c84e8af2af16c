// Package sim simulates a fleet of children's GPS watches speaking the 3G/SeTracker protocol to a
// kinwatch server over real TCP: the demo's data source and the server's load generator.
//
// It owns the watches' behaviour (routes between home, school and park, GPS and indoor cell/Wi-Fi
// fixes, battery, pedometer, alarms, health readings, voice messages and photos), their side of
// the conversation (LK handshake, resending unanswered LK and AL, answering server commands as
// firmware does, reconnecting with back-off) and the statistics a load test reports. The wire
// format comes from watchproto; sim never frames or escapes bytes itself. It must not depend on
// any server package: it sees the server only through the socket, as a watch does.
package sim
