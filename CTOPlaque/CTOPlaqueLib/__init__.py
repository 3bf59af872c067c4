"""CTOPlaqueLib: Qt-free algorithms of the CTOPlaque Slicer extension.

Quantitative coronary CT angiography of chronic total occlusions after
Xing et al., Quant Imaging Med Surg 2022;12:3625. Everything here works on numpy
arrays plus an IJK->RAS matrix; the MRML layer (``mrml.py``) and the file layer
(``volume_io.py``, ``markups_io.py``) convert to and from those.

The modules by stage, in the order a lesion flows through them (``MODULES_BY_STAGE``; a test keeps
it complete). The package stays flat: a few dozen modules of at most about 500 lines, imported by their short
names from Slicer's Python console, the README and user scripts (``CTOPlaqueLib.analysis``), which
sub-packages would lengthen and break for no gain in what a module does; the stages are named here.
"""

__version__ = "0.1.0"
SOFTWARE_NAME = "CTOPlaque"

MODULES_BY_STAGE = {
    "settings": ("settings", "errors"),
    "input": ("volume_io", "dicom_series", "markups_io", "mrml", "lesion_location"),
    "centerline": ("centerline_extraction", "objectness", "centerline", "landmarks", "landmark_proposals"),
    "measurement": ("crosssection", "contours", "composition", "analysis", "quality", "reconstruction_kernel",
                    "misregistration", "morphology", "scores", "contour_masks", "contour_review"),
    "pictures": ("labelmap", "straightening", "plots", "lesion_report", "section_view"),
    "output": ("export", "lesion_files", "segments", "segmentation_file", "dicom_results", "staging"),
    "running": ("lesion_job", "batch", "cli", "requirements", "phantom"),
}
