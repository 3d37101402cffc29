package oauthflow

import "context"

// Actor kinds: who made a change recorded in the audit log.
const (
	ActorUser      = "user"      // a console user (ID is the user id, Name the email)
	ActorAPIKey    = "api_key"   // a Bearer key (ID is the key id, Name its name)
	ActorCLI       = "cli"       // an airlock subcommand on the server itself
	ActorAnonymous = "anonymous" // nobody signed in: a sign-in attempt, a connect link
)

// Actor is who is making a change and from where. It travels on the
// context, so that the store can write the audit row in the same
// transaction as the change without every method taking one more argument,
// and so that this package, which never imports the store, passes it on
// untouched through the accounts service.
type Actor struct {
	Kind    string
	ID      string
	Name    string
	Address string // the client address, as the handlers resolve it
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries. Background work (refreshes,
// keep-alive, webhook deliveries) carries none: it is nobody's change.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
