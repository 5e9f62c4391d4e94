"""Gateways: serve the verified local index to everyday tools (sshd, ssh, …).

    from registry.gateways.ssh import authorized_keys
    print(authorized_keys("alice"))

Gateways read only the index (never a chain) and import nothing heavy.
"""
