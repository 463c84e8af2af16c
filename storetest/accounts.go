package storetest

// accountTests cover kinwatch.AccountStore: accounts, sessions, mailed tokens, identities.
var accountTests = []storeTest{}
