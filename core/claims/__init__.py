"""The paper claims, their mutants, and the scenario gallery."""
