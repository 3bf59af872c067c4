"""The choices and limits the cohort commands offer: their own module, free of pandas and statsmodels, so that the
``ctoplaque`` parser is built without importing the statistics (the lesion verbs start faster)."""

AGREEMENTS = ("inter-observer", "intra-observer")
PATIENT_RULES = ("any-failed", "any-success")
MIN_BOOTSTRAP = 200
T_TESTS = {"welch": "Welch's t-test", "student": "Student's t-test"}
