"""The phantom's rendering shortcut: phantom._render_supersampled renders point by point only the voxels that are not
all one material (near the vessel, its vein, the myocardium's surface or a side branch) and gives the others their
background HU. The image must be, bit for bit, what rendering all 2 x 2 x 2 points of every voxel gives."""

import itertools

import numpy as np
import pytest

from CTOPlaqueLib.phantom import (SUPERSAMPLE_OFFSETS, PhantomSpec, _grid_geometry, _one_material, _Path,
                                  _render_local, _render_supersampled, _vessel_transform, _voxel_points_local)

# Short vessels on coarse, oblique grids: the slab of myocardium below the vessel with the vein above it, and the
# "wrap" shape's cylinder of myocardium with the vein beside and both side branches.
SPECS = {
    "below-vein-above": PhantomSpec(proximal_mm=6.0, occlusion_length_mm=8.0, distal_mm=6.0, spacing_mm=(0.7, 0.6, 0.8),
                                    margin_mm=4.0, side_branches=True),
    "wrap-vein-beside": PhantomSpec(shape="wrap", bend_radius_mm=12.0, myocardium_gap_mm=0.0, vein_side="beside",
                                    side_branches=True, proximal_mm=6.0, occlusion_length_mm=8.0, distal_mm=6.0,
                                    spacing_mm=(0.6, 0.7, 0.8), margin_mm=4.0),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_image_is_every_point_rendered(name):
    spec = SPECS[name]
    path = _Path.make(spec)
    rotation, offset = _vessel_transform(spec)
    ijk_to_ras, shape_kji = _grid_geometry(spec, path.points @ rotation.T + offset)
    voxels = np.arange(np.prod(shape_kji))
    centres = _voxel_points_local(voxels, shape_kji, ijk_to_ras, rotation, offset)
    total = np.zeros(len(voxels))
    for sub_offset in itertools.product(SUPERSAMPLE_OFFSETS, repeat=3):  # the order in which the shortcut sums
        total += _render_local(spec, _voxel_points_local(voxels, shape_kji, ijk_to_ras, rotation, offset, sub_offset),
                               path)
    every_point = (total / 8.0).reshape(shape_kji).astype(np.float32)

    image = _render_supersampled(spec, shape_kji, ijk_to_ras, rotation, offset, path, centres)
    np.testing.assert_array_equal(image, every_point)
    # The shortcut is taken for most voxels (else this test would not test it), of fat and of myocardium.
    one_material = _one_material(spec, centres, path, 0.5 * float(np.linalg.norm(ijk_to_ras[:3, :3] @ [1, 1, 1])))
    assert one_material.mean() > 0.5
    assert {-100.0, 110.0} <= set(np.unique(image.ravel()[one_material]))
