"""Audio feature extraction shared by the speech models: integer log-mel frontend."""
