"""Tests of wavenet_music/report/."""
