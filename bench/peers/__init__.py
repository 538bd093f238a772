"""Peers measured beside Aegis in ``make bench``: a NiceGUI page and a bare Flet page.

``nicegui_page.py`` and ``nicegui_load.py`` run in the bench's own venv
(``bench/.work/peer-venv``, made by :mod:`bench.peers.venv`); ``flet_page.py`` runs in
the project's venv. All three show the same content: four status cards and four line
charts of 120 points, refreshed every 5 s, an "Updated HH:MM:SS" line and a button.
"""
