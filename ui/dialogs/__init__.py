"""Dialogs that sit over a screen: the supervisor's step-up sign-in."""
