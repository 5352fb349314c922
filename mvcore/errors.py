"""The one error type users see: a one-line message naming the file and the problem."""


class InputError(ValueError):
    """Bad user input (file, array, setting). `str(err)` is a complete one-line message.

    The CLI prints it as `error: <message>` and exits with status 2; the app shows it with
    `st.error`. Raise it with the offending path first: `InputError(f"{path}: not a video")`.
    """
