"""Programs: the language marketers write, and its compiler to Amazon States Language."""
