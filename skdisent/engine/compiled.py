"""Functions of one network compiled with ``torch.compile``, each once."""

import torch

__all__ = ["CompiledFunctions"]


class CompiledFunctions:
    """``torch.compile`` results for one network, by name; never pickled or saved.

    The batch dimension is compiled as dynamic: one compilation serves full batches,
    the shorter last batch of an epoch and inference batches alike (on the CPU it
    runs as fast as a graph specialised to one batch size).

    Parameters
    ----------
    network : torch.nn.Module
        The network whose functions are compiled; a cache serves that network only.
    """

    def __init__(self, network):
        self.network = network
        self._functions = {}

    def __contains__(self, name):
        return name in self._functions

    def get(self, name, function, options=None):
        """``function`` compiled under ``name``, compiling it the first time.

        Parameters
        ----------
        name : str
            Key of the compilation (one per function and set of options).
        function : callable
            The network or one of its methods.
        options : dict, default=None
            Inductor settings for this compilation.

        Returns
        -------
        compiled : callable
        """
        if name not in self._functions:
            self._functions[name] = torch.compile(function, dynamic=True, options=options)
        return self._functions[name]
