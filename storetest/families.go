package storetest

// familyTests cover kinwatch.FamilyStore, LatestPositions and command idempotency keys.
var familyTests = []storeTest{}
