"""Use cases: one function per thing a person does at the kiosk, each one vault transaction."""
