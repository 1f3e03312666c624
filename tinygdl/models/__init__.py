"""The book's networks, one file per family, reading like its chapter:

* ``classifiers.py``   chapter 2: the MLP and the CNN
* ``autoencoders.py``  chapter 3 and Hands-On ML ch. 17: the convolutional autoencoder, and the
                       stacked, tied, greedy, convolutional, recurrent, denoising, sparse and
                       linear (PCA) autoencoders
* ``vae.py``           chapter 3: the variational autoencoders, their loss, the ELBO and the
                       importance-weighted bound
* ``gan.py``           chapter 4: DCGAN, WGAN-GP, conditional WGAN-GP, the dense GAN, the
                       weight-clipped WGAN; ``gan_training.py`` their objectives and training steps

Each file also holds the layers and blocks that only its family uses (PixelCNN's masked and
shifted convolutions, the critic's ``MinibatchStdDev``, the U-Net's ``SinusoidalEmbedding`` ...);
general layers are in ``tinygdl.nn`` (the rule: CONTRIBUTING.md, "A new layer").

The zoo (``tinygdl.zoo``) wraps each with its data, optimizers and sampler.
"""
