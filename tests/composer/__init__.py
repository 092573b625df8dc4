"""Tests of wavenet_music/composer/."""
