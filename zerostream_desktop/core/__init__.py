"""Qt-free domain code shared by the desktop app, localbus and the companion web apps."""
