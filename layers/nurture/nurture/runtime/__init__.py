"""The runtime: what happens when activity is stored (react: identity, triggers, goals and
waits), the program steps a state machine calls (steps, actions), and the daily sweep."""
