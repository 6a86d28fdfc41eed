"""The screens of the TUI: the course picker, the lesson, help, and the dialogs."""
