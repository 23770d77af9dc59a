"""The IPython face: the extension, its cell hooks, the footer, ``%nbprofile`` and ``%%budget``."""
