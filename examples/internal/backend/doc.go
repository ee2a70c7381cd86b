// Package backend turns the example programs' command-line flags into a
// lock.Locker or a cas.Store: the in-memory ones by default, or a real server
// named with -lock / -store and its endpoint flag. Endpoint flags default to
// the RACEFREE_* variables that scripts/services.sh env prints, so
//
//	eval "$(scripts/services.sh env)"
//	go run ./examples/seatbooking -lock redis
//
// runs a program on the servers the test suite uses.
package backend
