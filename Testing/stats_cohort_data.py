"""A synthetic cohort with a known data-generating model, for the statistics tests and benchmark."""

import numpy as np
import pandas as pd

COMPONENTS = ("necrotic_core", "fibrofatty", "fibrous", "dense_calcium")


def synthetic_cohort(lesions: int, seed: int = 0, lesions_per_patient: float = 1.03) -> pd.DataFrame:
    """Lesions with plaque composition, risk factors and a crossing outcome whose log-odds fall with the
    dense-calcium PAV (true OR 0.97 per percentage point, as reported by the seed paper)."""
    rng = np.random.default_rng(seed)
    patients = np.sort(rng.integers(0, int(lesions / lesions_per_patient), lesions))
    shares = rng.dirichlet([4.0, 1.5, 3.0, 2.0], lesions) * 100.0
    total = rng.lognormal(np.log(250.0), 0.5, lesions)
    frame = pd.DataFrame({"patient_id": [f"P{p:06d}" for p in patients],
                          "lesion_id": [f"L{i:06d}" for i in range(lesions)], "observer": "",
                          "occlusion_length_mm": rng.gamma(4.0, 6.0, lesions),
                          "total_plaque_volume_mm3": total})
    for index, name in enumerate(COMPONENTS):
        frame[f"{name}_pav"] = shares[:, index]
        frame[f"{name}_volume_mm3"] = shares[:, index] * total / 100.0
    patient_age = rng.normal(59.0, 10.0, patients.max() + 1)
    patient_male = (rng.random(patients.max() + 1) < 0.85).astype(int)
    frame["age"] = patient_age[patients]
    frame["male"] = patient_male[patients]
    frame["diabetes"] = (rng.random(lesions) < 0.3).astype(int)
    log_odds = 1.8 - 0.0305 * frame["dense_calcium_pav"] - 0.01 * (frame["age"] - 59)
    frame["crossing_success"] = (rng.random(lesions) < 1 / (1 + np.exp(-log_odds))).astype(int)
    return frame
