"""Tests of wavenet_music/audio/."""
