"""The interop suite: the engine against s2n-tls, OpenSSL, GnuTLS, Python's ssl and tlslite-ng over loopback TCP.

``cells`` is the matrix as data, ``peers`` the command line of each peer and role,
``peer_process`` runs one, ``engine_side`` the engine's half, ``run`` one cell, ``report``
the markdown and HTML matrix; ``test_interop`` has one test per cell. See docs/interop.md.
"""
