"""GraspNet-1Billion datasets: layout, reader and the synthetic generator."""
