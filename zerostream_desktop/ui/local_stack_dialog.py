"""Where the embedded endpoint listens and how other clients connect to it (token included)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class LocalStackDialog(QDialog):
    """Endpoint, table, CA file and the bearer token (hidden until asked for, copyable)."""

    def __init__(
        self, endpoint: str, table: str, data_dir: Path, ca_cert: Path | None, token: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Local Stack")
        self.token_field = QLineEdit(token, readOnly=True)
        self.token_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_button = QPushButton("Show")
        self.show_button.setCheckable(True)
        self.show_button.toggled.connect(self._reveal)
        copy_button = QPushButton("Copy")
        copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(token))
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_field, 1)
        token_row.addWidget(self.show_button)
        token_row.addWidget(copy_button)

        form = QFormLayout()
        form.addRow("Endpoint", _selectable(endpoint))
        form.addRow("Table", _selectable(f"{table}  ({data_dir / 'tables'})"))
        form.addRow("TLS CA", _selectable(str(ca_cert) if ca_cert else "none (plaintext on loopback)"))
        form.addRow("Token", token_row)
        hint = QLabel(
            "Clients send the token as <code>authorization: Bearer &lt;token&gt;</code>; with TLS they trust the "
            "CA file (for the ZeroBus SDK: <code>SSL_CERT_FILE</code>)."
        )
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def _reveal(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.token_field.setEchoMode(mode)
        self.show_button.setText("Hide" if shown else "Show")


def _selectable(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(label.textInteractionFlags() | label.textInteractionFlags().TextSelectableByMouse)
    return label
