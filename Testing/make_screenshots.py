"""Screenshots of the CTO Plaque panel in use, for the extension's catalog entry (Resources/Screenshots).

The real panel (CTOPlaqueWidget and its .ui) runs offscreen in the widget harness of the tests (slicer_gui), on the
sample case Slicer's Sample Data module offers: seeds -> Extract centerline -> Propose landmarks -> Analyze ->
Export. Saved: ``panel.png``, the panel with the results table, and ``panel-straightened.png``, the panel beside the
straightened vessel the *Straightened vessel* button shows (here as the module exports it, since the harness has no
slice views). Run: ``make screenshots``.
"""

from __future__ import annotations

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Resources", "Screenshots")
PANEL_SIZE = (540, 1180)
RESULTS_TABLE_HEIGHT = 440


def run_panel(work_dir: str):
    """The panel after the sample case's analysis and export; returns (panel QWidget, straightened PNG path)."""
    import mrml_app
    import slicer_gui

    import slicer

    scene = mrml_app.make_scene()
    application = slicer_gui.install(scene, {module: os.path.join(ROOT, module, f"{module}.py")
                                             for module in ("CTOPlaque", "CTOPlaqueStats")})
    application.temporaryPath = work_dir
    import CTOPlaque

    volume, seeds = CTOPlaque.loadSampleCase()
    widget = CTOPlaque.CTOPlaqueWidget()
    ui = widget.ui
    ui.volumeSelector.setCurrentNode(volume)
    ui.seedsSelector.setCurrentNode(seeds)
    ui.extractCenterlineButton.click()
    ui.proposeLandmarksButton.click()
    for edit, text in ((ui.lesionIdEdit, "LAD-1"), (ui.patientIdEdit, "sample")):
        edit.text = text
        edit.editingFinished.emit()
    ui.analyzeButton.click()
    ui.outputDirectoryButton.directory = os.path.join(work_dir, "export")
    ui.exportButton.click()
    table = slicer_gui.unwrap(ui.resultsTableView)
    table.setMinimumHeight(RESULTS_TABLE_HEIGHT)
    table.setColumnWidth(0, min(table.columnWidth(0), PANEL_SIZE[0] // 2))
    panel = slicer_gui.unwrap(widget.parent)
    panel.resize(*PANEL_SIZE)
    panel.show()
    slicer.app.processEvents()
    return panel, os.path.join(work_dir, "export", "LAD-1.straightened.png")


def beside(panel_image, picture_path: str):
    """The panel image with the picture at ``picture_path`` to its right, scaled to fit the panel's height and
    twice its width, centred vertically."""
    from PySide6 import QtCore, QtGui

    box = QtCore.QSize(2 * panel_image.width(), panel_image.height())
    picture = QtGui.QImage(picture_path).scaled(box, QtCore.Qt.KeepAspectRatio, QtCore.Qt.SmoothTransformation)
    combined = QtGui.QImage(panel_image.width() + picture.width(), panel_image.height(), QtGui.QImage.Format_RGB32)
    combined.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(combined)
    painter.drawImage(0, 0, panel_image)
    painter.drawImage(panel_image.width(), (panel_image.height() - picture.height()) // 2, picture)
    painter.end()
    return combined


def main() -> int:
    sys.path[:0] = [os.path.join(ROOT, folder) for folder in ("Testing", "CTOPlaque", "CTOPlaqueStats")]
    with tempfile.TemporaryDirectory() as work_dir:
        panel, straightened = run_panel(work_dir)
        image = panel.grab().toImage()
        os.makedirs(OUT_DIR, exist_ok=True)
        image.save(os.path.join(OUT_DIR, "panel.png"))
        beside(image, straightened).save(os.path.join(OUT_DIR, "panel-straightened.png"))
    print(f"screenshots written to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
