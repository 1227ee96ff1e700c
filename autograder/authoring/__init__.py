"""Authoring the homework: solution markers, student stubs, the student notebook, make assignment."""
