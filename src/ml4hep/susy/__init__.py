"""SUSY-AI-style task: pMSSM-19 scan, tree-level spectrum, pyhf recast labels, classifiers of the exclusion."""
