"""Every AWS call chatbridge makes lives in this package; the rest of the layer is pure Python."""
