"""The fast simulation engine of `nurture simulate PROGRAM --contacts N` (a local tool; not
shipped to Lambda): the compiled state machines and the same step code, in memory."""
