"""A Python value <-> bytes: serializers, fingerprints, signing, the blob codec."""
