"""The use cases, one module per resource: route -> use case -> store write of the desired state ->
reconciler -> SFU. A use case checks the rule (domain/), stores what should be true, and asks the
reconciler for one bounded pass; it never calls the SFU to change a room itself (mute, which stores
nothing, and the reactions' aggregate data messages, which leave nothing in the room, are the direct
calls) and never undoes a stored change because the SFU failed.
"""
