"""Physical constants shared by the generator, the model report and the analysis."""

SPEED_OF_LIGHT_KMS = 299_792.458  # km/s, exact (SI definition of the metre)
