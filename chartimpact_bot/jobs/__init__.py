"""Analysis jobs: what a delivery asks for, and the queue that runs them."""
