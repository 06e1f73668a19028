"""Event generation: Pythia8 processes, columnar event-record analysis with FastJet, sharded ROOT output."""
