"""Tests of wavenet_music/config/."""
