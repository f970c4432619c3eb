"""What the training thread runs: the Run it logs to, the steering it obeys, LR control, the DDP
exchange, the trainer thread and the signal handlers that stop it gracefully."""
