"""Helpers several test modules share (fakes, fixtures' builders, checks); no tests here."""
