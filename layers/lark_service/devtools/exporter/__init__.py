"""The local EMF receiver: what CloudWatch does with EMF in AWS, done on a laptop for Prometheus."""
