"""The entry points' services, one home each as in `functions/`: the app card, the workflow actions,
install and connections, Replay and the settings page. The sync never imports them."""
