"""The lab's own images as real container images, for clusters that run real containers (kind).

On the embedded cluster a lab's images exist only in its image catalogue (labs/<lab>/images.yaml). On kind the
same catalogue entries become real images: `build` makes one image per catalogue tag, each running `runner`,
which acts out the entry (its logs, its HTTP answers, its exit) in a real process; `kind load` puts them on the
node. Images from public registries in a catalogue (nginx, prometheus) are pulled by the node as usual.
"""
