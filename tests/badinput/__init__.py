"""Bad input drills (issue 7, "Bad input"): hostile recipient files and hostile vendor answers."""
