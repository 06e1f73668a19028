"""Physics of the H->tautau analysis: event selection and the HiggsML feature set."""
