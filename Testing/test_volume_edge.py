"""A vessel that runs close to the volume's edge (a field of view or a crop tight around it): the sections reach
outside the grid, where they read crosssection.OUTSIDE_VOLUME_HU. The curved phantom is cropped on its slice axis
so that the grid ends 1.5 mm beyond the outer wall (2.6 mm from the centerline) where the vessel comes closest to
it, and analysed on its true centerline and landmarks.
"""

import numpy as np
import pytest
from conftest import phantom_for

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.volume_io import Volume

OUTER_RADIUS_MM = 2.6
GAP_MM = 1.5


def _cropped(phantom, gap_mm: float):
    """The phantom's volume cut on its slice axis gap_mm beyond the outer wall at the centerline's lowest slice."""
    ras_to_ijk = np.linalg.inv(phantom.ijk_to_ras)
    k = phantom.centerline_ras @ ras_to_ijk[2, :3] + ras_to_ijk[2, 3]
    slice_mm = np.linalg.norm(phantom.ijk_to_ras[:3, 2])
    cut = int(np.floor(k.min() - (OUTER_RADIUS_MM + gap_mm) / slice_mm))
    assert cut > 0
    ijk_to_ras = phantom.ijk_to_ras.copy()
    ijk_to_ras[:3, 3] += cut * phantom.ijk_to_ras[:3, 2]
    return Volume(np.ascontiguousarray(phantom.hu[cut:]), ijk_to_ras)


@pytest.mark.xfail(strict=True, reason="mismeasured and misnamed: plaque volume +148% (1160 against 467 mm^3; "
                   "+11% with a 0.5 mm gap, -1.2% with 4 mm), and the warnings name myocardium and a wall closing in "
                   "(with 0.5 mm only the lumen uncertainty), not the volume's edge; 5111ad2 reads the curved preset "
                   "so cropped +162%")
def test_a_vessel_near_the_volume_edge_is_measured_or_warned():
    """The vessel (= plaque) volume between P and D within 5% of the truth, or a warning that says the sections
    leave the volume."""
    phantom = phantom_for("curved")
    result = analyze_lesion(_cropped(phantom, GAP_MM), phantom.centerline_ras, phantom.landmarks_ras)
    error = result.vessel_volume_mm3 / phantom.truth["vessel_volume_mm3"] - 1.0
    warned = [warning for warning in result.warnings if "edge of the volume" in warning or "outside the volume" in
              warning]
    assert abs(error) <= 0.05 or warned
