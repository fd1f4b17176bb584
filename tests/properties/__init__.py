"""Property tests (hypothesis): numbers, template filling, vendor signatures and callback parsers."""
