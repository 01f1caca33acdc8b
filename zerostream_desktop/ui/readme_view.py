"""Help > the user guide's sections (the README), shown in the app: no browser or network needed."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from zerostream_desktop.core.paths import readme_path, readme_section

SECTIONS = (  # (menu text, the README heading it opens)
    ("The &Local Stack (localbus)", "The local stack"),
    ("Setting Up &Databricks", "Setting up a Databricks workspace"),
    ("Load &Tests from a Terminal", "Load testing from a terminal"),
    ("Hosting the &Web Apps", "Hosting the web apps"),
)


class ReadmeDialog(QDialog):
    def __init__(self, heading: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        text = readme_section(heading)
        self.setWindowTitle(f"ZeroStream: {heading}")
        self.browser = QTextBrowser(openExternalLinks=True)
        path = readme_path()
        if path is not None:
            self.browser.setSearchPaths([str(path.parent)])  # the screenshots the section shows
        self.browser.setMarkdown(text or f"The guide's section “{heading}” is not part of this installation.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(900, 700)
