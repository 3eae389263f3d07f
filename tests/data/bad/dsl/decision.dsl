net x
{
  node Treat
  {
    TYPE = LIST;
    DEFINITION = { NAMESTATES = (yes, no); };
  };
};
